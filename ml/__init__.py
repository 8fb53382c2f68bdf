"""Machine-learning services of mlbot: data, training, model cards and prediction.

Never imports bot/ or discord: every model here can be trained and used without a bot.
"""
